{{ config(materialized='table', format='parquet') }}
select status, count(*) as orders, sum(amount) as total
from {{ ref('stg_orders') }}
group by status
