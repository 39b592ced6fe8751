"""ipywidgets front end: controls plus a worker thread calling ``core``. No image math here."""
