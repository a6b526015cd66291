"""Calendar providers behind one interface (`slotgraph.providers.base.CalendarClient`)."""
