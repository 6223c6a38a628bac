"""Key pairs and HTTP Signatures: generation, encryption at rest, rotation, signing and verifying."""
