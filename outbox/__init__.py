"""Publishing: builders, addressing, collections, fan-out and the delivery queue."""
