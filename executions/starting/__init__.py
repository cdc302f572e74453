"""How an execution comes to exist: the one creation primitive, dedupe, dispatch."""
