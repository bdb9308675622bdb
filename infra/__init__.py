"""The prodstack Pulumi program: settings, composition root, offline render and check."""
