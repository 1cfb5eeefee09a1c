"""A loopback imitation of the Hugging Face Hub, for `hftop --demo` and the tests."""
