"""Generated protobuf and gRPC modules for taskwire.v1 (scripts/generate.sh). Do not edit."""
