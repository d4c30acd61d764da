"""The shared-memory transport's clean-up: a region the server still holds for a moment is unregistered once
it lets go, not left registered (Triton refuses to unregister a region a request still uses)."""

from __future__ import annotations

from tritonclient.utils import InferenceServerException

from clients.frame_transport import _Region

IN_USE = "[StatusCode.INTERNAL] Cannot unregister shared memory region '{}', it is currently in use."  # 2.51's text


class ServerHoldingTheRegion:
    """Answers the shared-memory calls as Triton does while a finished request still holds the region."""

    def __init__(self, refusals: int, message: str = IN_USE):
        self.refusals, self.message, self.registered = refusals, message, set()

    def register_system_shared_memory(self, name, key, size, headers=None):
        self.registered.add(name)

    def unregister_system_shared_memory(self, name, headers=None):
        if self.refusals:
            self.refusals -= 1
            raise InferenceServerException(self.message.format(name))
        self.registered.discard(name)


def test_a_region_still_in_use_is_unregistered_once_the_server_lets_go():
    server = ServerHoldingTheRegion(refusals=3)
    region = _Region(server, 64, "frame", {})
    region.release(server)
    assert server.registered == set() and server.refusals == 0


def test_a_server_that_is_gone_does_not_hold_up_the_release():
    server = ServerHoldingTheRegion(refusals=1, message="failed to connect to all addresses")
    region = _Region(server, 64, "frame", {})
    region.release(server)  # no retry, no exception: its registrations went with the server
    assert server.refusals == 0
