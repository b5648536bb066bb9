"""Shown instead of the dashboards when the setting requires sign-in for everything."""

import streamlit as st

st.title("UrbanSymbiosis")
st.info("This dashboard asks everyone to sign in. Use the form in the sidebar; ask an administrator for an account.", icon="🔒")
