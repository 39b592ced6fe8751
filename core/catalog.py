"""What the package can load, rendered for the README and the CLI from :func:`known_models`.

The README's "Models and formats" section between the ``<!-- generated: models-and-formats -->``
markers is this module's output (``realesrgan-kit models --markdown`` prints it, and a test
checks that the README holds it verbatim), so a new zoo entry, architecture or weights format
shows up there by regenerating, never by hand-editing a copy.
"""

from __future__ import annotations

from .known_models import known_models

__all__ = ["GENERATED_BEGIN", "GENERATED_END", "models_and_formats_markdown", "replace_generated_section"]

GENERATED_BEGIN = "<!-- generated: models-and-formats (realesrgan-kit models --markdown) -->"
GENERATED_END = "<!-- end generated: models-and-formats -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def models_and_formats_markdown() -> str:
    """The zoo table, the loadable networks and the readable formats, as Markdown (with markers)."""
    models = known_models()
    lines = [
        GENERATED_BEGIN,
        "| name | network | scale | offline | what it is |",
        "|---|---|---|---|---|",
    ]
    for entry in models.zoo:
        name = f"{entry.name} (default)" if entry.name == models.default else entry.name
        offline = models.offline_source(entry)
        lines.append(
            f"| {_cell(name)} | {entry.architecture} | ×{entry.scale} | {offline} | {_cell(entry.description)} |"
        )
    lines += ["", "Any weights file loads from a path when it holds one of these networks:", ""]
    lines += [
        f"- **{spec.id}**: {spec.summary}" if spec.summary else f"- **{spec.id}**" for spec in models.networks
    ]
    lines += ["", "in one of these formats (told by the file's first bytes, not its name):", ""]
    lines += [f"- **{name}**: {detail}" for name, detail in models.formats]
    lines.append(GENERATED_END)
    return "\n".join(lines) + "\n"


def replace_generated_section(text: str, section: str) -> str:
    """``text`` (a README) with its generated models-and-formats block replaced by ``section``."""
    start = text.index(GENERATED_BEGIN)
    end = text.index(GENERATED_END, start) + len(GENERATED_END)
    if text[end : end + 1] == "\n":
        end += 1
    return text[:start] + section + text[end:]
