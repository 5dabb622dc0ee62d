"""The function-evaluator gRPC contract (Porch's `evaluator.proto`) and the limits both sides share."""
