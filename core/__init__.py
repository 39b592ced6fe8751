"""The core: networks, weight loading, the upscale engine and the degradation pipeline.

Never imports ComfyUI or ipywidgets; front ends pass what they know (folders, progress
callbacks, cancel hooks) as arguments.
"""
