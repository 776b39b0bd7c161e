"""The use cases (workbench/services), as both front ends call them. Planted values: tests/support/planted.py."""
