"""The exception rules' names, in the order of their columns in `transaction_exceptions` and
in its `exceptions` list: what the event types file, the outbox and the reports name.

Plain Python, so that domain code checks names against it; each rule's SQL flag and what it
means are in defs/exceptions/rules.py.
"""

RULES = ("refund", "high_value", "price_override", "after_hours", "repeat_refunds")
