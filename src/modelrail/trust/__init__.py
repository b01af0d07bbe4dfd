"""What CI re-derives instead of trusting: DVC outputs against dvc.lock, gates against records, policy changes."""
