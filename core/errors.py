"""The typed error hierarchy of realesrgan-kit.

Every error a user can cause derives from :class:`RealESRGANKitError`, so front ends catch one
type and show its message. Messages follow one rule: say what was expected, what came, and
what to do about it.

Hierarchy::

    RealESRGANKitError
    ├── ModelError
    │   ├── UnsupportedModelError   file or state dict of no known format or architecture
    │   ├── CorruptModelError       a known format, but damaged, truncated or inconsistent
    │   ├── UnsafeModelError        a pickle that would import or call arbitrary objects
    │   ├── ModelNotFoundError      a name that no search place resolved
    │   ├── IncompatibleModelsError two models that cannot be interpolated
    │   └── DownloadError
    │       └── ChecksumMismatchError
    ├── InvalidImageError           (also a ValueError) bad pixels, shape, dtype, channels
    │   ├── ImageTooLargeError      more pixels than the limit, told by the header before decoding
    │   └── InvalidDatasetError     a training folder that is empty, unreadable, too small or misaligned
    ├── InvalidParameterError       (also a ValueError) a bad option value
    │   ├── RunFolderMismatchError  --resume on a run folder from another setup (or none)
    │   └── PrecisionNotSupportedError  a precision asked for by name that the network fails in
    ├── UpscaleOutOfMemoryError     (also a MemoryError) out of memory even at the smallest tile
    ├── BackendError                a compute backend (torch, openvino) could not run the model
    │   ├── BackendNotInstalledError    its optional package is missing
    │   ├── BackendCompileError         it cannot convert or compile this model
    │   └── BackendRuntimeError         it failed while running a window
    ├── OperationCancelledError     a cancel hook asked to stop; nothing partial is returned
    ├── OutputExistsError           (also a FileExistsError) refusing to overwrite
    ├── MissingDependencyError      (also an ImportError) an optional extra is not installed
    ├── ClusterError                Ray could not start, be joined, or start any worker
    └── VideoError                  a video could not be read, written or resumed
        ├── InvalidVideoError       (also a ValueError) not a video, no video stream
        ├── CorruptVideoError       truncated or damaged data (names the frame/timestamp)
        ├── UnsupportedCodecError   no decoder or encoder for the codec in this PyAV build
        ├── UnsupportedPixelFormatError  a pixel format we cannot convert or encode
        └── ResumeMismatchError     finished chunks were made from another source or options
"""

from __future__ import annotations

__all__ = [
    "RealESRGANKitError",
    "ModelError",
    "UnsupportedModelError",
    "CorruptModelError",
    "UnsafeModelError",
    "ModelNotFoundError",
    "IncompatibleModelsError",
    "DownloadError",
    "ChecksumMismatchError",
    "InvalidImageError",
    "ImageTooLargeError",
    "InvalidParameterError",
    "InvalidDatasetError",
    "RunFolderMismatchError",
    "PrecisionNotSupportedError",
    "UpscaleOutOfMemoryError",
    "BackendError",
    "BackendNotInstalledError",
    "BackendCompileError",
    "BackendRuntimeError",
    "OperationCancelledError",
    "OutputExistsError",
    "MissingDependencyError",
    "ClusterError",
    "VideoError",
    "InvalidVideoError",
    "CorruptVideoError",
    "UnsupportedCodecError",
    "UnsupportedPixelFormatError",
    "ResumeMismatchError",
]


class RealESRGANKitError(Exception):
    """Base of every error this package raises on purpose."""


class ModelError(RealESRGANKitError):
    """A model could not be found, read, recognised or built."""


class UnsupportedModelError(ModelError):
    """The file or state dict is of no format or architecture this package knows."""


class CorruptModelError(ModelError):
    """The file claims a known format but is damaged, truncated or inconsistent."""


class UnsafeModelError(ModelError):
    """A pickled checkpoint that would import or call arbitrary objects when loaded."""


class ModelNotFoundError(ModelError):
    """A model name or path that none of the search places resolved."""


class IncompatibleModelsError(ModelError):
    """Two models that cannot be interpolated (different architectures or shapes)."""


class DownloadError(ModelError):
    """An explicit download failed."""


class ChecksumMismatchError(DownloadError):
    """A downloaded or cached file does not have the expected SHA-256."""


class InvalidImageError(RealESRGANKitError, ValueError):
    """An input image of the wrong kind: empty, wrong channels, unsupported dtype, NaN."""


class ImageTooLargeError(InvalidImageError):
    """An image file whose header declares more pixels than the caller's limit (``max_pixels``)."""

    def __init__(self, message: str, *, width: int, height: int, limit: int) -> None:
        super().__init__(message)
        self.width, self.height, self.limit = width, height, limit


class InvalidParameterError(RealESRGANKitError, ValueError):
    """An option value outside its allowed range or of the wrong kind."""


class PrecisionNotSupportedError(InvalidParameterError):
    """``precision`` was asked for by name and the network raises in it (e.g. a foreign model in bf16)."""


class InvalidDatasetError(InvalidImageError):
    """Training data that cannot be used: an empty or unreadable folder, images smaller than
    the patch, HR/LR pairs whose sizes do not match the scale."""


class RunFolderMismatchError(InvalidParameterError):
    """A run folder to resume that holds no run, or a run of another setup (model, data,
    stage, losses, seed ...), which would not continue the same training."""


class UpscaleOutOfMemoryError(RealESRGANKitError, MemoryError):
    """Out of memory even after retrying with the smallest allowed tile."""


class BackendError(RealESRGANKitError):
    """A compute backend could not run the model; ``backend`` names it."""

    def __init__(self, message: str, *, backend: str) -> None:
        super().__init__(message)
        self.backend = backend


class BackendNotInstalledError(BackendError):
    """The backend's optional package is not installed (the message says which extra to install)."""


class BackendCompileError(BackendError):
    """The backend cannot convert or compile this model (an architecture it does not handle)."""


class BackendRuntimeError(BackendError):
    """The backend failed while running a window."""


class OperationCancelledError(RealESRGANKitError):
    """A cancel hook asked the operation to stop; no partial result is returned."""


class OutputExistsError(RealESRGANKitError, FileExistsError):
    """The output path exists and overwriting was not requested."""


class MissingDependencyError(RealESRGANKitError, ImportError):
    """An optional extra (e.g. ``realesrgan-kit[ray]``) is needed but not installed."""


class ClusterError(RealESRGANKitError):
    """Ray could not be started or joined, or its workers could not start."""


class VideoError(RealESRGANKitError):
    """A video could not be read, written or resumed."""


class InvalidVideoError(VideoError, ValueError):
    """The file is not a video at all, or has no video stream."""


class CorruptVideoError(VideoError):
    """The video is truncated or its data is damaged; the message names the frame or timestamp."""


class UnsupportedCodecError(VideoError):
    """This PyAV build has no decoder (input) or encoder (output) for the codec."""


class UnsupportedPixelFormatError(VideoError):
    """A pixel format that cannot be converted to RGB, or that the chosen encoder cannot take."""


class ResumeMismatchError(VideoError):
    """The finished chunks next to the target were made from another source or other options."""
