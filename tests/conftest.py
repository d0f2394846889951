"""Suite-wide fixtures."""

import pytest
import torch


@pytest.fixture(autouse=True)
def single_torch_thread():
    """Run every test on one intra-op thread, restoring the previous count afterwards: the tiny models here
    are dominated by thread start-up, and on the shared 2-core CI machine more threads make them 10-50x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
