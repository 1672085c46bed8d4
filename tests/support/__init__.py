"""Shared by the template's test modules: Docker images and containers, PostgreSQL servers."""
