"""Stand-in for ComfyUI's ``comfy`` package (only the modules the pack uses exist here)."""
