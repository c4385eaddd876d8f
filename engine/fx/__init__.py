"""Money in one currency (docs/fx.md): monthly FX rates (versioned, audited), the ECB and long rate-file layouts,
and the conversion every cost line goes through at ingest. No Streamlit here."""
