"""Classification into the taxonomy's themes and policy areas."""
