"""The library's sharing: signing and identities, secrets left out, bundles, remotes and
pickle-free data."""
