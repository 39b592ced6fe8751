"""ComfyUI adapters: node schemas and calls into ``core``. No image math lives here."""
