"""A gRPC pass-through proxy on 127.0.0.1 that routes each call on the stream-ID header, as the chart's
Envoy does with ``ring_hash`` on that header, and records what every inference request carried.

Calls are forwarded as bytes (never re-encoded); a call without the header goes to the first server.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc
from tritonclient.grpc import service_pb2

from clients.server_ring import ServerRing
from gazesam.contracts import STREAM_ID_HEADER

_INFER = "/inference.GRPCInferenceService/ModelInfer"
_NO_DEADLINE_S = 1e9


@dataclass(frozen=True)
class InferCall:
    header: str | None  # the stream-ID header's value, None when absent
    sequence_id: int  # the correlation ID in the request body
    server: str  # where the proxy sent it


class HeaderRoutingProxy(grpc.GenericRpcHandler):
    """``with HeaderRoutingProxy([a, b]) as proxy:`` clients use ``proxy.url``; ``proxy.infer_calls`` records."""

    def __init__(self, servers: list[str]):
        self.ring = ServerRing(servers)
        self.infer_calls: list[InferCall] = []
        self._lock = threading.Lock()
        self._channels = {server: grpc.insecure_channel(server) for server in self.ring.servers}
        self._server = grpc.server(ThreadPoolExecutor(max_workers=32), handlers=[self])
        self.url = f"127.0.0.1:{self._server.add_insecure_port('127.0.0.1:0')}"

    def service(self, handler_call_details):
        method = handler_call_details.method
        return grpc.unary_unary_rpc_method_handler(lambda body, context: self._forward(method, body, context))

    def _forward(self, method: str, body: bytes, context: grpc.ServicerContext) -> bytes:
        header = dict(context.invocation_metadata()).get(STREAM_ID_HEADER)
        server = self.ring.server_for(int(header)) if header else self.ring.servers[0]
        if method == _INFER:
            sequence_id = service_pb2.ModelInferRequest.FromString(body).parameters["sequence_id"].int64_param
            with self._lock:
                self.infer_calls.append(InferCall(header, sequence_id, server))
        try:
            remaining = context.time_remaining()  # about 2**63 ns without a deadline
            timeout = remaining if remaining < _NO_DEADLINE_S else None
            return self._channels[server].unary_unary(method)(body, timeout=timeout)
        except grpc.RpcError as exc:
            context.abort(exc.code(), exc.details())

    def __enter__(self) -> "HeaderRoutingProxy":
        self._server.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.stop(grace=None)
        for channel in self._channels.values():
            channel.close()
