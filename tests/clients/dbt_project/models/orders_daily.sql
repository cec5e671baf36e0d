{{ config(materialized='incremental', incremental_strategy='insert_overwrite', partitioned_by=['dt'], format='parquet') }}
select status, count(*) as orders, sum(amount) as total, dt
from {{ ref('stg_orders') }}
group by status, dt
