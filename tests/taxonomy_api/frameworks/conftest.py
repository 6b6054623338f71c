import pytest

from services.taxonomy_api.frameworks.bundle import Bundle
from services.taxonomy_api.frameworks.onet import OnetOptions, read_onet
from tests.material import SHARED_DIR

ONET = SHARED_DIR / "data" / "onet-29.2" / "text-converted"


@pytest.fixture(scope="session")
def onet() -> Bundle:
    """O*NET 29.2 read with the default options, once for the run."""
    return read_onet([ONET], options=OnetOptions())


@pytest.fixture(scope="session")
def onet_with_unrated() -> Bundle:
    return read_onet([ONET], options=OnetOptions(unrated_occupations=True))
