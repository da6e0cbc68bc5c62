"""An offline "sample museum": procedurally painted works served in the shape of the AIC API.

Import-light on purpose (no Django): `painter` needs numpy + Pillow, `server` the stdlib.
"""
