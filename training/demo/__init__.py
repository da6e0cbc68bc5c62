"""The demo's shipped generator checkpoints and the script that slims them (see docs/demo.md)."""
