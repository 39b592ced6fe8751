"""atheris entry point for one target: ``python -m tests.fuzz.atheris_main TARGET [libFuzzer args]``.

Started by ``tests.fuzz.run``; our package is instrumented for coverage feedback, so mutations
that reach new branches of the parsers are kept.
"""

from __future__ import annotations

import logging
import sys

from .run import ensure_importable


def main() -> None:
    import atheris

    ensure_importable()
    # Millions of refused inputs: the library's warnings about them would only slow the run.
    logging.getLogger("realesrgan_kit").setLevel(logging.CRITICAL)
    target = sys.argv.pop(1)
    with atheris.instrument_imports(include=["realesrgan_kit"]):  # pyright: ignore[reportAttributeAccessIssue]
        import realesrgan_kit.core.imagefile
        import realesrgan_kit.core.load  # noqa: F401
    from .targets import run_one

    def one_input(data: bytes) -> None:
        run_one(target, data)

    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
