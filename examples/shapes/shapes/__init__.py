"""A small image classifier trained on pictures it draws itself: an example of bringing your own trainer."""
