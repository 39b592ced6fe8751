"""One spec module per architecture; the registry lists them."""
