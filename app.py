"""FineTune Studio: the Streamlit router over the wizard's pages (`streamlit run app.py`)."""

import streamlit as st

from ui import access, steps

st.set_page_config(page_title="FineTune Studio", page_icon=":material/model_training:", layout="wide")
access.require_access()  # before any page: a network visitor without the password sees nothing else

pages = [st.Page(f"views/{slug}.py", title=title + (" ✓" if slug in steps.WIZARD and steps.is_done(slug) else ""),
                 icon=icon,
                 url_path=slug, default=slug == "task")
         for slug, title, icon in steps.STEPS]
navigation = st.navigation({"Fine-tune a model": pages[:8], "Tools": pages[8:]})
steps.render_sidebar()
navigation.run()
