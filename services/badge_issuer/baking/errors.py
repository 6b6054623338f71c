"""Typed baking failures, so the API maps each family to one problem+json status."""


class BakingError(ValueError):
    """Base of every baking and extraction failure."""


class InvalidImageError(BakingError):
    """Not a well-formed PNG or SVG, or its baked payload is malformed (a 4xx, e.g. 422)."""


class HostileImageError(InvalidImageError):
    """Over a size, dimension or expansion limit, or carrying a DTD / entity: refused before any
    decoding (a 4xx, e.g. 413 or 422). A subclass of ``InvalidImageError`` so one handler can
    catch both."""


class CredentialNotFoundError(BakingError):
    """A well-formed image with no baked ``openbadgecredential`` in it."""
