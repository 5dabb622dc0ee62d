"""Root test configuration shared by unit and end-to-end tests."""
