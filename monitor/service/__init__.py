"""Running the service: wiring the parts, the scheduler, the demo data set."""
