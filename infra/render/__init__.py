"""Offline render and check: the real program under Pulumi's mock runtime, no CLI needed."""
