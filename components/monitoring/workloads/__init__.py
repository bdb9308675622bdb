"""The Monitoring component's workloads, one module each."""
