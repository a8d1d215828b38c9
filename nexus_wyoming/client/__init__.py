"""`nexus-wyoming client`: a Wyoming protocol test client for any server, ours or not."""
