"""The write side: carrying out plans and stopping processes, each checked again just before it acts."""
