"""What the lessons run that is not a check: catch-up, reset, the myths' live proofs, hand-made pushes."""
