"""Delivery-webhook receivers (bounces, complaints, unsubscribes) arrive with the delivery work."""
