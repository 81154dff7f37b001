"""The KServe V2 / Open Inference Protocol: `tensors` (JSON and binary tensor codec), `client`
(Fovea's remote backends), `http` (the /v2 router) and `grpc` (GRPCInferenceService). Importing
the package imports none of them."""
