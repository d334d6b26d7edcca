"""The project's error hierarchy: every error says what is wrong and how to fix it."""


class AxiomError(Exception):
    """Base class of every axiomtests error."""


class CheckpointError(AxiomError):
    """A checkpoint cannot be loaded or is not a supported cross-encoder."""


class DatasetError(AxiomError):
    """A dataset or source file is missing, corrupt or stale."""


class HookError(AxiomError):
    """A hook name or hook function is invalid."""


class InputError(AxiomError):
    """A query/document input cannot be scored as given."""


class DeviceError(AxiomError):
    """The requested torch device is not usable on this machine."""


class NotComputable(AxiomError):
    """A claim cannot be computed on this model (e.g. no head has the role it is about): a ``fail`` result
    without a value, with the reason; the mechanism the claim is about is absent."""
