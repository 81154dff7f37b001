"""Python code generated from kserve_v2.proto (command in its header), committed rather than built
at install: the wheel then needs no protoc, and `fovea-serve[grpc]` only the protobuf runtime.
tests/protocols/kserve_v2/test_proto.py regenerates it and fails if it is stale."""
