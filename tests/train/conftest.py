import pytest

from tests._tiny import write_tiny_npz


@pytest.fixture
def tiny_npz(tmp_path):
    """A learnable 10-class problem of 8×8 uint8 'images' (600 train, 200 test) as an .npz."""
    return write_tiny_npz(tmp_path / "tiny.npz")
