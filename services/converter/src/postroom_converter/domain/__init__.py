"""Pure decisions of the converter: parsing, classification, threading and mapping."""
