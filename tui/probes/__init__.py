"""Blocking reads of the world (filesystem, processes, network). Each returns frozen data; none touches the UI."""
