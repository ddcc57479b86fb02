"""Listing sources: bytes in, plain paper records out. Nothing here touches the ORM."""
