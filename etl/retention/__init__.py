"""Retention tiers: the policy, and which evidence objects a run may delete."""
