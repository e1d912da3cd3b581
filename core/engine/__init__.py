"""The library's engine: what a save captures, how it is serialized, previewed, saved,
loaded and restored, and what a pickle would do (the opcode scanner)."""
