"""User journeys of the peak model: shoppers placing orders, customers contacting service."""
