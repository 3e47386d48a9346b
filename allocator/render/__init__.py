"""What people read: number formats, Markdown tables, the offline HTML report and its charts."""
