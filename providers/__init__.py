"""Calendar providers behind one interface (`providers.base.CalendarClient`)."""
